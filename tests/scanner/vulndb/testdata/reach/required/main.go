package main

import "fmt"

func main() {
	fmt.Println("gin is required, but no package of it is imported")
}

// Command hello is the module the README's first command scans: a Go module with no
// dependencies, so the scan needs no network and no module cache.
package main

import "fmt"

func main() {
	fmt.Println("hello")
}

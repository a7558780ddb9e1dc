package main

import "example.com/called/internal/logs"

func main() {
	logs.Serve(":8080")
}

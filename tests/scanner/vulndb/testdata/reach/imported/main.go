package main

import "github.com/gin-gonic/gin"

func main() {
	// gin.New has no Logger middleware: the package is imported, no vulnerable symbol called.
	r := gin.New()
	_ = r.Run(":8080")
}

// A nested module: its own code, not the main module's.
package main

import "github.com/gin-gonic/gin"

func main() {
	_ = gin.Default()
}

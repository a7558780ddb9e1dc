package main

import (
	"testing"

	"github.com/gin-gonic/gin"
)

// Test code does not count: this call is not in the built program.
func TestDefault(t *testing.T) {
	_ = gin.Default()
}

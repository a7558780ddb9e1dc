// Package logs calls gin.Default, which installs the vulnerable Logger middleware (GO-2020-0001).
package logs

import (
	web "github.com/gin-gonic/gin"
)

func Serve(addr string) error {
	r := web.Default()
	return r.Run(addr)
}

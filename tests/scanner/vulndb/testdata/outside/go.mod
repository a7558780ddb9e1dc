// The same modules at the versions that fix those entries (or past them).
module example.com/outside

go 1.19

toolchain go1.19.1

require (
	github.com/docker/distribution v2.7.1+incompatible
	github.com/evanphx/json-patch v4.9.0+incompatible
	github.com/gin-gonic/gin v1.6.0
	github.com/miekg/dns v1.0.4-0.20180125103619-43913f2f4fbd
)

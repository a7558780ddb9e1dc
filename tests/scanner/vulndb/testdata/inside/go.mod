// Module versions inside the affected ranges of real Go vulnerability database entries.
module example.com/inside

go 1.19

require (
	github.com/docker/distribution v2.6.2+incompatible
	github.com/evanphx/json-patch v3.0.1-0.20180301000000-0123456789ab+incompatible
	github.com/gin-gonic/gin v1.5.0
	github.com/miekg/dns v1.0.4-0.20180101000000-0123456789ab
	k8s.io/kubernetes v1.20.0
)

module example.com/imported

go 1.22

require github.com/gin-gonic/gin v1.5.0

module example.com/required/tools

go 1.22

require github.com/gin-gonic/gin v1.5.0

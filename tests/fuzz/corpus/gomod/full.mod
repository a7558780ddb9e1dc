module example.com/app // indirect

go 1.22.0

toolchain go1.22.3

godebug default=go1.21

require (
	example.com/a v1.2.3
	example.com/b/v2 v2.0.0-20240101000000-abcdefabcdef // indirect
)

exclude example.com/c v1.0.0

replace example.com/d => ../d

replace example.com/e v1.0.0 => example.com/f v1.1.0

retract [v1.0.0, v1.0.5] // broken

tool example.com/a/cmd/x

ignore ./vendor2

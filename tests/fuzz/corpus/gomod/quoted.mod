module "example.com/q"

require "example.com/a" v1.0.0
//go:license MIT

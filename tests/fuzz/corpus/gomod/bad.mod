module
require (
	x

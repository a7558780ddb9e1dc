module example.com/fixtures

go 1.24

require golang.org/x/crypto v0.0.0-00010101000000-000000000000

replace golang.org/x/crypto => ./xcrypto

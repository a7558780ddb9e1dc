// Package cryptos holds GPS103, GPS104, GPS105, GPS106 and GPS107 cases.
package cryptos

import (
	"crypto/des"
	"crypto/hmac"
	c "crypto/md5"
	crand "crypto/rand"
	"crypto/rc4"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"hash"
	mrand "math/rand"
	randv2 "math/rand/v2"
)

func Hashes(key, data []byte) ([]byte, hash.Hash) {
	sum := c.Sum(data)          // want GPS103
	mac := hmac.New(sha1.New, key) // want GPS103
	good := sha256.Sum256(data)
	_ = good
	return sum[:], mac
}

func Ciphers(key []byte) error {
	if _, err := des.NewTripleDESCipher(key); err != nil { // want GPS104
		return err
	}
	_, err := rc4.NewCipher(key) // want GPS104
	return err
}

func NewSessionToken() string {
	const letters = "abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 16)
	for i := range b {
		b[i] = letters[mrand.Intn(len(letters))] // want GPS105
	}
	return string(b)
}

func Salt() []byte {
	salt := make([]byte, 16)
	mrand.Read(salt) // want GPS105
	return salt
}

func Jitter() int {
	delay := randv2.IntN(100) // not a secret: no finding
	apiKey := randv2.Int64()  // want GPS105
	_ = apiKey
	return delay
}

func GoodToken() string {
	return crand.Text()
}

func TLSConfigs() []*tls.Config {
	insecure := &tls.Config{InsecureSkipVerify: true} // want GPS106
	verified := &tls.Config{InsecureSkipVerify: false, MinVersion: tls.VersionTLS12}
	old := &tls.Config{MinVersion: tls.VersionTLS10} // want GPS107
	capped := &tls.Config{MaxVersion: tls.VersionTLS11} // want GPS107
	numeric := &tls.Config{MinVersion: 0x0301} // want GPS107
	later := &tls.Config{}
	later.InsecureSkipVerify = true // want GPS106
	later.MinVersion = tls.VersionTLS13
	return []*tls.Config{insecure, verified, old, capped, numeric, later}
}

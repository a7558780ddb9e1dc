// Package secrets holds GPS101 cases: a trailing "want GPS101" marks each expected finding.
package secrets

import "os"

const apiKey = "sk-8f3a9c2b71d04e6a"     // want GPS101
const dbPassword = "Tr0ub4dor&3"         // want GPS101
const awsKeyID = "AKIAIOSFODNN7EXAMPLE"   // want GPS101
const passwordEnv = "DB_PASSWORD"        // the name of a variable, not a secret
const tokenURL = "https://auth.example.com/oauth/token"
const apiKeyHeader = "X-Api-Key"
const errBadPassword = "invalid password"
const adminPassword = "hunter2-super-secret" // want GPS101
const sessionTokenName = "session_token"      // a key name: letters and separators only

// want-next GPS101
var privateKeyPEM = `-----BEGIN RSA PRIVATE KEY-----
MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu
-----END RSA PRIVATE KEY-----`

type Config struct {
	User     string
	Password string
	Token    string
}

func Configs() []Config {
	secret := "9f86d081884c7d65" // want GPS101
	_ = secret
	empty := ""
	_ = empty
	c := Config{User: "admin", Password: "hunter2!"} // want GPS101
	c.Token = "ghp_0123456789abcdefghijABCDEFGHIJ012345" // want GPS101
	c.Password = os.Getenv("APP_PASSWORD")
	fromEnv := Config{Password: os.Getenv("PW")}
	m := map[string]string{"password": "s3cr3t-value"} // want GPS101
	_ = m
	token := "password" // a key name, not a credential
	_ = token
	emoji := map[string]string{"secret": "\u3299\ufe0f"} // a display value, not a key
	_ = emoji
	return []Config{c, fromEnv}
}

func Check(password string) bool {
	return password == "letmein-42" // want GPS101
}

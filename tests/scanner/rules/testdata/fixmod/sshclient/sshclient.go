// Package sshclient holds GPS117 cases.
package sshclient

import (
	"net"

	"golang.org/x/crypto/ssh"
)

func Configs(key ssh.PublicKey) []*ssh.ClientConfig {
	return []*ssh.ClientConfig{
		{User: "deploy", HostKeyCallback: ssh.InsecureIgnoreHostKey()}, // want GPS117
		{User: "deploy", HostKeyCallback: func(string, net.Addr, ssh.PublicKey) error { return nil }}, // want GPS117
		{User: "deploy", HostKeyCallback: ssh.FixedHostKey(key)},
	}
}

// Package suppress holds suppression cases: reviewed findings and malformed comments.
package suppress

import "os"

func Write(data []byte) error {
	//goproxy-scan:ignore GPS111 the report must be readable by the web server's group
	if err := os.WriteFile("report.txt", data, 0o640); err != nil { // want-suppressed GPS111
		return err
	}
	if err := os.WriteFile("b.txt", data, 0o644); err != nil { //goproxy-scan:ignore GPS111 public download
		return err
	}
	// want-next GPS100
	//goproxy-scan:ignore GPS111
	if err := os.WriteFile("c.txt", data, 0o644); err != nil { // want GPS111
		return err
	}
	//goproxy-scan:ignore GPS101 wrong rule: the permission finding stays
	if err := os.WriteFile("d.txt", data, 0o644); err != nil { // want GPS111
		return err
	}
	// want-next GPS100
	//goproxy-scan:ignore GPS999 no such rule
	return os.WriteFile("e.txt", data, 0o644) // want GPS111
}

const note = "//goproxy-scan:ignore GPS111 inside a string this is not a comment"

// Write files with //goproxy-scan:ignore GPS111 <reason> when a mode is reviewed: a comment
// that only mentions the marker is not a suppression, and not a malformed one either.
func Mention(data []byte) error { return os.WriteFile("f.txt", data, 0o644) } // want GPS111

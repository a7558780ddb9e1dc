// Package commands holds GPS102 cases.
package commands

import (
	"context"
	"os"
	"os/exec"
)

const git = "git"

func Run(ctx context.Context, tool, dir string, args []string) error {
	if err := exec.Command(tool).Run(); err != nil { // want GPS102
		return err
	}
	if err := exec.CommandContext(ctx, os.Args[1], "-v").Run(); err != nil { // want GPS102
		return err
	}
	if err := exec.Command("sh", "-c", "ls -l "+dir).Run(); err != nil { // want GPS102
		return err
	}
	if err := exec.Command("sh", "-c", "ls -l /").Run(); err != nil {
		return err
	}
	if err := exec.Command(git, "status", dir).Run(); err != nil {
		return err
	}
	if err := exec.Command("go", args...).Run(); err != nil {
		return err
	}
	return exec.Command(args[0], args[1:]...).Run() // want GPS102
}

// SPDX-License-Identifier: Apache-2.0

// hello: a box runs a command and gives back its output.
//
//	go run ./examples/hello [IMAGE | ROOTFS_DIR]
package main

import (
	"context"
	"fmt"
	"log"
	"os"

	boxlite "boxlite.dev/sdk/go"
)

func main() {
	ctx := context.Background()
	rt, err := boxlite.NewRuntime() // $BOXLITE_HOME or ~/.boxlite
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	image, opts := source()
	box, err := rt.Create(ctx, image, append(opts, boxlite.WithMemory(256))...)
	if err != nil {
		log.Fatal(err)
	}
	defer box.Close()
	res, err := box.Exec(ctx, "echo", "hello from a box")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(res.Stdout)
	fmt.Printf("exit code %d\n", res.ExitCode)
	if err := box.Stop(ctx); err != nil {
		log.Fatal(err)
	}
}

// source: the first argument, an image reference or a root file system folder.
func source() (string, []boxlite.BoxOption) {
	if len(os.Args) < 2 {
		log.Fatal("usage: hello IMAGE | ROOTFS_DIR")
	}
	if st, err := os.Stat(os.Args[1]); err == nil && st.IsDir() {
		return "", []boxlite.BoxOption{boxlite.WithRootfsPath(os.Args[1])}
	}
	return os.Args[1], nil
}

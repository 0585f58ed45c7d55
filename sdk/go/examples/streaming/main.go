// SPDX-License-Identifier: Apache-2.0

// streaming: output as it arrives, stdin piped in, the status at the end.
//
//	go run ./examples/streaming [IMAGE | ROOTFS_DIR]
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"

	boxlite "boxlite.dev/sdk/go"
)

func main() {
	ctx := context.Background()
	rt, err := boxlite.NewRuntime()
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	var opts []boxlite.BoxOption
	image := os.Args[1]
	if st, err := os.Stat(image); err == nil && st.IsDir() {
		image, opts = "", []boxlite.BoxOption{boxlite.WithRootfsPath(os.Args[1])}
	}
	box, err := rt.Create(ctx, image, append(opts, boxlite.WithMemory(256))...)
	if err != nil {
		log.Fatal(err)
	}
	defer box.Close()
	ex, err := box.StartExecution(ctx, "sh", []string{"-c", "for i in 1 2 3; do echo tick $i; sleep 0.1; done; tr a-z A-Z"},
		&boxlite.ExecutionOptions{Stdout: os.Stdout, Stderr: os.Stderr})
	if err != nil {
		log.Fatal(err)
	}
	defer ex.Close()
	io.WriteString(ex.Stdin, "shouted back\n")
	ex.Stdin.Close()
	code, err := ex.Wait(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("exit code %d\n", code)
	box.Stop(ctx)
}

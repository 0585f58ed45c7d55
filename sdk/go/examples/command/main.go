// SPDX-License-Identifier: Apache-2.0

// command: os/exec-style commands in a box, several at once.
//
//	go run ./examples/command [IMAGE | ROOTFS_DIR]
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"
	"sync"

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
	outs := make([]string, 4)
	var wg sync.WaitGroup
	for i := range outs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cmd := box.Command("sh", "-c", fmt.Sprintf("sleep 0.%d; echo worker %d done", i+1, i+1))
			out, err := cmd.Output(ctx)
			if err != nil {
				log.Fatal(err)
			}
			outs[i] = string(out)
		}(i)
	}
	wg.Wait()
	cmd := box.Command("wc", "-c")
	cmd.Stdin = strings.NewReader("twelve bytes")
	out, err := cmd.Output(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(strings.Join(outs, ""))
	fmt.Printf("wc counted %s", out)
	box.Stop(ctx)
}

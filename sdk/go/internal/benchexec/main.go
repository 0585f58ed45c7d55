// SPDX-License-Identifier: Apache-2.0

// The Go SDK side of bench/sdk.sh: the same measurements as bench/sdk_exec.c on the same
// box, through Box.Exec and StartExecution.
//
//	go run ./internal/benchexec NAME RUNS MIB STREAMS
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"strconv"
	"syscall"
	"time"

	boxlite "boxlite.dev/sdk/go"
)

// cpuMs is this process's CPU time (every thread), in ms.
func cpuMs() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e6
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func main() {
	ctx := context.Background()
	name := os.Args[1]
	runs, _ := strconv.Atoi(os.Args[2])
	mib, _ := strconv.Atoi(os.Args[3])
	streams, _ := strconv.Atoi(os.Args[4])
	rt, err := boxlite.NewRuntime()
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	box, err := rt.Get(ctx, name)
	if err != nil {
		log.Fatal(err)
	}
	defer box.Close()
	if _, err := box.Exec(ctx, "true"); err != nil { // warm-up
		log.Fatal(err)
	}
	// figures are printed after the loop (a write per run would count in the CPU time;
	// C's printf is buffered)
	rtt := make([]float64, 0, runs)
	c0 := cpuMs()
	for i := 0; i < runs; i++ {
		s := time.Now()
		if _, err := box.Exec(ctx, "true"); err != nil {
			log.Fatal(err)
		}
		rtt = append(rtt, float64(time.Since(s).Microseconds())/1000)
	}
	cpu := (cpuMs() - c0) / float64(runs)
	for _, ms := range rtt {
		fmt.Printf("rtt %.3f\n", ms)
	}
	fmt.Printf("cpu %.4f\n", cpu)
	for i := 0; i < streams; i++ {
		var out counter
		s := time.Now()
		ex, err := box.StartExecution(ctx, "dd", []string{"if=/dev/zero", "bs=65536", fmt.Sprintf("count=%d", mib*16)},
			&boxlite.ExecutionOptions{Stdout: &out, Stderr: io.Discard})
		if err != nil {
			log.Fatal(err)
		}
		ex.Stdin.Close()
		if _, err := ex.Wait(ctx); err != nil {
			log.Fatal(err)
		}
		el := time.Since(s).Seconds()
		ex.Close()
		if out.n != int64(mib)<<20 {
			log.Fatalf("stream: got %d bytes", out.n)
		}
		fmt.Printf("tput %.2f\n", float64(mib)/el)
	}
}

// Command main prints what Go's time.ParseDuration and Duration.String make of
// each input, to build the golden file that tests/test_stale_properties.py
// compares syncsafe against. Input: one JSON object per line, {"parse": "..."}
// or {"format": <int64>}. Output: one JSON object per line.
//
//	go run . < cases.in.jsonl > ../go_duration_cases.jsonl
package main

import (
	"bufio"
	"encoding/json"
	"os"
	"time"
)

type input struct {
	Parse  *string `json:"parse,omitempty"`
	Format *int64  `json:"format,omitempty"`
}

type output struct {
	Parse  *string `json:"parse,omitempty"`
	Format *int64  `json:"format,omitempty"`
	NS     *int64  `json:"ns,omitempty"`
	Error  bool    `json:"error,omitempty"`
	String *string `json:"string,omitempty"`
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var c input
		if err := json.Unmarshal(in.Bytes(), &c); err != nil {
			panic(err)
		}
		o := output{Parse: c.Parse, Format: c.Format}
		if c.Parse != nil {
			d, err := time.ParseDuration(*c.Parse)
			if err != nil {
				o.Error = true
			} else {
				ns := int64(d)
				o.NS = &ns
			}
		}
		if c.Format != nil {
			s := time.Duration(*c.Format).String()
			o.String = &s
		}
		if err := out.Encode(o); err != nil {
			panic(err)
		}
	}
}

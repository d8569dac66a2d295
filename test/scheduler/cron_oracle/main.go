// cron_oracle: robfig/cron v3 itself, as the reference for jobs::cron (test/scheduler/cron_oracle).
//
// Reads lines "spec<TAB>start" (start in RFC 3339 with nanoseconds; the spec may itself contain
// tabs: the last one separates) and writes one line per input line:
//
//	ok<TAB>t1 t2 ... t20   the next 20 activation times, each from the one before, as Unix
//	                       seconds.nanoseconds; "zero" where Next returns the zero time (and stops)
//	err<TAB>message        Parse returned an error
//	panic<TAB>message      Parse panicked
//
// The parser is cron.NewParser(SecondOptional | Minute | Hour | Dom | Month | Dow | Descriptor).
// The start time is given to Next in time.Local (set TZ), as a scheduler's clock would be.
//
// Build offline with the Debian package golang-github-robfig-cron-dev:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o cron_oracle main.go
package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/robfig/cron"
)

var parser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month |
	cron.Dow | cron.Descriptor)

func parse(spec string) (s cron.Schedule, err error, panicked bool) {
	defer func() {
		if r := recover(); r != nil {
			s, err, panicked = nil, fmt.Errorf("%v", r), true
		}
	}()
	s, err = parser.Parse(spec)
	return s, err, false
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		line := in.Text()
		tab := strings.LastIndexByte(line, '\t')
		if tab < 0 {
			fmt.Fprintf(os.Stderr, "cron_oracle: no tab in %q\n", line)
			os.Exit(2)
		}
		spec := line[:tab]
		start, err := time.Parse(time.RFC3339Nano, line[tab+1:])
		if err != nil {
			fmt.Fprintf(os.Stderr, "cron_oracle: %v\n", err)
			os.Exit(2)
		}
		s, err, panicked := parse(spec)
		switch {
		case panicked:
			fmt.Fprintf(out, "panic\t%q\n", err.Error())
			continue
		case err != nil:
			fmt.Fprintf(out, "err\t%q\n", err.Error())
			continue
		}
		out.WriteString("ok\t")
		t := start.In(time.Local)
		for i := 0; i < 20; i++ {
			if i > 0 {
				out.WriteByte(' ')
			}
			t = s.Next(t)
			if t.IsZero() {
				out.WriteString("zero")
				break
			}
			fmt.Fprintf(out, "%d.%09d", t.Unix(), t.Nanosecond())
		}
		out.WriteByte('\n')
	}
	if err := in.Err(); err != nil {
		fmt.Fprintf(os.Stderr, "cron_oracle: %v\n", err)
		os.Exit(2)
	}
}

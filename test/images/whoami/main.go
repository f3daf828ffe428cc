// Command whoami is the program of berth's test image berth.test/whoami.
// It prints, one "key=value" line each, what a container's security
// settings made of it: uid, gid, supplementary groups, the capability sets
// and NoNewPrivs and Seccomp from /proc/self/status, whether it can create
// a file in / (a read-only root filesystem), and its host name. With
// -forever it then waits for SIGTERM, so that the pod stays running.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	forever := flag.Bool("forever", false, "wait for SIGTERM after printing")
	flag.Parse()

	groups, err := os.Getgroups()
	if err != nil {
		fmt.Printf("groups_error=%v\n", err)
	}
	var gs []string
	for _, g := range groups {
		gs = append(gs, fmt.Sprint(g))
	}
	fmt.Printf("uid=%d\n", os.Getuid())
	fmt.Printf("gid=%d\n", os.Getgid())
	fmt.Printf("groups=%s\n", strings.Join(gs, ","))
	status()
	fmt.Printf("root_writable=%v\n", rootWritable())
	host, _ := os.Hostname()
	fmt.Printf("hostname=%s\n", host)

	if *forever {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM, os.Interrupt)
		<-c
	}
}

// status prints the security-related lines of /proc/self/status.
func status() {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		fmt.Printf("status_error=%v\n", err)
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch key {
		case "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp":
			fmt.Printf("%s=%s\n", key, strings.TrimSpace(value))
		}
	}
}

func rootWritable() bool {
	f, err := os.CreateTemp("/", ".whoami-")
	if err != nil {
		return false
	}
	f.Close()
	os.Remove(f.Name())
	return true
}

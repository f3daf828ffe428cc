// Command server is the HTTP server of berth's test image
// berth.test/server. It answers / with its host name, and /healthz and
// /readyz with 200 "ok" or 503 "failing"; each answer is flipped by a
// request to /healthz/fail, /healthz/ok, /readyz/fail or /readyz/ok, so that
// tests can drive liveness and readiness probes. /exit?code=N ends the
// process with status N. SIGTERM ends it with status 0.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
)

func main() {
	listen := flag.String("listen", ":8080", "address to listen on")
	unhealthy := flag.Bool("unhealthy", false, "start with /healthz failing")
	unready := flag.Bool("unready", false, "start with /readyz failing")
	flag.Parse()

	var healthy, ready atomic.Bool
	healthy.Store(!*unhealthy)
	ready.Store(!*unready)

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		host, _ := os.Hostname()
		fmt.Fprintln(w, host)
	})
	for path, state := range map[string]*atomic.Bool{"/healthz": &healthy, "/readyz": &ready} {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			if !state.Load() {
				http.Error(w, "failing", http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintln(w, "ok")
		})
		mux.HandleFunc(path+"/ok", func(w http.ResponseWriter, r *http.Request) {
			state.Store(true)
			fmt.Fprintln(w, "ok")
		})
		mux.HandleFunc(path+"/fail", func(w http.ResponseWriter, r *http.Request) {
			state.Store(false)
			fmt.Fprintln(w, "failing")
		})
	}
	mux.HandleFunc("/exit", func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(r.URL.Query().Get("code"))
		if err != nil {
			http.Error(w, "code must be a number", http.StatusBadRequest)
			return
		}
		log.Printf("exiting with status %d", code)
		os.Exit(code)
	})

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	// Said once the port accepts connections.
	log.Printf("listening on %s", l.Addr())
	if err := srv.Serve(l); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}

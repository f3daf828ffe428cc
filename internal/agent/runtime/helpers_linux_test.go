package runtime_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"testing"

	"berth.dev/berth/internal/agent/runtime"
	"berth.dev/berth/internal/agent/runtime/runtimetest"
)

// agentRole is the first argument with which the test binary plays an agent
// that TestShimOutlivesAgent kills.
const agentRole = "berth-test-agent"

func TestMain(m *testing.M) {
	if len(os.Args) >= 2 && os.Args[1] == agentRole {
		if err := runTestAgent(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	runtimetest.Main(m)
}

// runTestAgent creates and starts a container, says so on stdout, and then
// waits to be killed. Arguments: run dir, cgroup parent, rootfs, log path.
func runTestAgent(args []string) error {
	rt, err := runtime.New(runtime.Config{RunDir: args[0], CgroupParent: args[1], ShimCommand: runtimetest.ShimCommand()})
	if err != nil {
		return err
	}
	s, err := rt.CreateSandbox(runtime.SandboxConfig{ID: "agentpod", Name: "agentpod"})
	if err != nil {
		return err
	}
	ctx := context.Background()
	cfg := runtime.ContainerConfig{
		ID: "survivor", Rootfs: args[2], LogPath: args[3], Env: []string{"PATH=/bin"},
		Labels: map[string]string{"io.kubernetes.container.name": "survivor"},
		Args:   []string{"sh", "-c", "echo before; until test -e /tmp/go; do sleep 0.05; done; echo after; exit 3"},
	}
	if err := rt.Create(ctx, cfg, s); err != nil {
		return err
	}
	if err := rt.Start(ctx, cfg.ID); err != nil {
		return err
	}
	fmt.Println("started")
	// Wait to be killed; the test holds stdin open.
	_, err = io.Copy(io.Discard, os.Stdin)
	return err
}

// Command build writes berth's test images into a directory, each as a
// `docker save` archive (NAME.tar) and an OCI layout archive
// (NAME.oci.tar): berth.test/busybox:v1 from a static busybox, and one
// image per -program on top of it. scripts/test-images runs it.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"berth.dev/berth/test/images/testimages"
)

// programs are "NAME=BINARY[,PORT...]" flags.
type programs []string

func (p *programs) String() string     { return strings.Join(*p, " ") }
func (p *programs) Set(v string) error { *p = append(*p, v); return nil }

func main() {
	out := flag.String("out", "", "directory to write the archives to (required)")
	busybox := flag.String("busybox", testimages.Path, "static busybox binary")
	prefix := flag.String("prefix", "berth.test", "registry part of the image names")
	tag := flag.String("tag", "v1", "tag of every image")
	var progs programs
	flag.Var(&progs, "program", "NAME=BINARY[,PORT/PROTO...]: an image of a static program on busybox (repeatable)")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "build: -out is required")
		os.Exit(2)
	}
	if err := run(*out, *busybox, *prefix, *tag, progs); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.Exit(1)
	}
}

func run(out, busybox, prefix, tag string, progs []string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	base, err := testimages.Busybox(busybox)
	if err != nil {
		return err
	}
	images := map[string]v1.Image{"busybox": base}
	for _, p := range progs {
		name, spec, ok := strings.Cut(p, "=")
		if !ok || name == "" {
			return fmt.Errorf("-program %q: want NAME=BINARY[,PORT...]", p)
		}
		fields := strings.Split(spec, ",")
		img, err := testimages.Program(base, fields[0], fields[1:]...)
		if err != nil {
			return fmt.Errorf("image %s: %w", name, err)
		}
		images[name] = img
	}
	for name, img := range images {
		ref := fmt.Sprintf("%s/%s:%s", prefix, name, tag)
		one := map[string]v1.Image{ref: img}
		if err := testimages.WriteDocker(filepath.Join(out, name+".tar"), one); err != nil {
			return fmt.Errorf("image %s: %w", name, err)
		}
		if err := testimages.WriteOCI(filepath.Join(out, name+".oci.tar"), one); err != nil {
			return fmt.Errorf("image %s: %w", name, err)
		}
		d, err := img.Digest()
		if err != nil {
			return err
		}
		fmt.Printf("%s %s\n", ref, d)
	}
	return nil
}

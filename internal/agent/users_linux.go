package agent

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// fileUserDB is an image's /etc/passwd and /etc/group, read once.
type fileUserDB struct {
	users  map[string][2]uint32
	groups map[string]uint32
}

// openUserDB reads the user database of a root filesystem, without
// following links out of it. Missing files are empty.
func openUserDB(rootfs string) (*fileUserDB, error) {
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return nil, fmt.Errorf("reading the image's users: %w", err)
	}
	defer root.Close()
	db := &fileUserDB{users: map[string][2]uint32{}, groups: map[string]uint32{}}
	read := func(name string, fn func(fields []string)) error {
		b, err := root.ReadFile(name)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the image's %s: %w", name, err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if f := strings.Split(sc.Text(), ":"); len(f) >= 4 {
				fn(f)
			}
		}
		return nil
	}
	err = errors.Join(
		read("etc/passwd", func(f []string) {
			uid, err1 := strconv.ParseUint(f[2], 10, 32)
			gid, err2 := strconv.ParseUint(f[3], 10, 32)
			if err1 == nil && err2 == nil {
				db.users[f[0]] = [2]uint32{uint32(uid), uint32(gid)}
			}
		}),
		read("etc/group", func(f []string) {
			if gid, err := strconv.ParseUint(f[2], 10, 32); err == nil {
				db.groups[f[0]] = uint32(gid)
			}
		}),
	)
	return db, err
}

func (db *fileUserDB) lookupUser(name string) (uint32, uint32, bool) {
	u, ok := db.users[name]
	return u[0], u[1], ok
}

func (db *fileUserDB) lookupGroup(name string) (uint32, bool) {
	g, ok := db.groups[name]
	return g, ok
}

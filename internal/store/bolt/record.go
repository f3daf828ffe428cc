package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"

	"berth.dev/berth/internal/store"
)

var (
	bucketKV   = []byte("kv")
	bucketLog  = []byte("log")
	bucketMeta = []byte("meta")

	metaRevision  = []byte("revision")
	metaCompacted = []byte("compacted")
)

var errCorrupt = errors.New("bolt store: corrupt record")

// revKey is the log key of rev: big-endian, so byte order is revision order.
func revKey(rev int64) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(rev))
}

func decodeRev(b []byte) (int64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("%w: revision of %d bytes", errCorrupt, len(b))
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// current is a "kv" record.
type current struct {
	createRev, modRev int64
	value             []byte
}

func (c current) encode() []byte {
	b := make([]byte, 0, 16+len(c.value))
	b = binary.BigEndian.AppendUint64(b, uint64(c.createRev))
	b = binary.BigEndian.AppendUint64(b, uint64(c.modRev))
	return append(b, c.value...)
}

// decodeCurrent decodes b; value aliases b.
func decodeCurrent(b []byte) (current, error) {
	if len(b) < 16 {
		return current{}, fmt.Errorf("%w: kv record of %d bytes", errCorrupt, len(b))
	}
	return current{
		createRev: int64(binary.BigEndian.Uint64(b)),
		modRev:    int64(binary.BigEndian.Uint64(b[8:])),
		value:     b[16:],
	}, nil
}

// change is a "log" record: the write made at one revision.
type change struct {
	typ        store.EventType
	createRev  int64
	prevModRev int64 // the key's mod revision before this write; 0 for Created
	key        string
	value      []byte // for Deleted, the last value
}

func (c change) encode() []byte {
	b := make([]byte, 0, 17+binary.MaxVarintLen64+len(c.key)+len(c.value))
	b = append(b, byte(c.typ))
	b = binary.BigEndian.AppendUint64(b, uint64(c.createRev))
	b = binary.BigEndian.AppendUint64(b, uint64(c.prevModRev))
	b = binary.AppendUvarint(b, uint64(len(c.key)))
	b = append(b, c.key...)
	return append(b, c.value...)
}

// decodeChange decodes b; value aliases b.
func decodeChange(b []byte) (change, error) {
	if len(b) < 18 {
		return change{}, fmt.Errorf("%w: log record of %d bytes", errCorrupt, len(b))
	}
	c := change{
		typ:        store.EventType(b[0]),
		createRev:  int64(binary.BigEndian.Uint64(b[1:])),
		prevModRev: int64(binary.BigEndian.Uint64(b[9:])),
	}
	n, w := binary.Uvarint(b[17:])
	if w <= 0 || uint64(len(b)-17-w) < n {
		return change{}, fmt.Errorf("%w: log record key length", errCorrupt)
	}
	rest := b[17+w:]
	c.key = string(rest[:n])
	c.value = rest[n:]
	return c, nil
}

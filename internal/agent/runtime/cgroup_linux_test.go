package runtime

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCgroupFiles(t *testing.T) {
	res := Resources{CPUShares: 1024, CPUQuota: 50000, CPUPeriod: 200000, MemoryLimit: 1 << 30, PidsLimit: 100}
	tests := []struct {
		name string
		mode CgroupMode
		res  Resources
		swap bool
		want []cgroupFile
	}{
		{
			name: "v2", mode: CgroupV2, res: res, swap: true,
			want: []cgroupFile{
				{"cpu", "cpu.weight", "39"},
				{"cpu", "cpu.max", "50000 200000"},
				{"memory", "memory.max", "1073741824"},
				{"memory", "memory.swap.max", "0"},
				{"pids", "pids.max", "100"},
			},
		},
		{
			name: "v2 quota with the default period, no swap accounting", mode: CgroupV2,
			res:  Resources{CPUQuota: 25000, MemoryLimit: 1 << 20},
			want: []cgroupFile{{"cpu", "cpu.max", "25000 100000"}, {"memory", "memory.max", "1048576"}},
		},
		{
			name: "v1", mode: CgroupHybrid, res: res, swap: true,
			want: []cgroupFile{
				{"cpu", "cpu.shares", "1024"},
				{"cpu", "cpu.cfs_period_us", "200000"},
				{"cpu", "cpu.cfs_quota_us", "50000"},
				{"memory", "memory.limit_in_bytes", "1073741824"},
				{"memory", "memory.memsw.limit_in_bytes", "1073741824"},
				{"pids", "pids.max", "100"},
			},
		},
		{name: "nothing", mode: CgroupV1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := cgroupFiles(tt.mode, tt.res, tt.swap)
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(cgroupFile{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

package gpu

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseDevice(t *testing.T) {
	for in, want := range map[string]string{"": "auto", "AUTO": "auto", "cpu": "cpu", "cuda": "cuda", "gpu": "cuda", "cuda:0": "cuda", "cuda:2": "cuda:2"} {
		d, err := ParseDevice(in)
		if err != nil || d.String() != want {
			t.Errorf("ParseDevice(%q) = %v, %v; want %s", in, d, err, want)
		}
	}
	for _, bad := range []string{"tpu", "cuda:-1", "cuda:x", "cuda:"} {
		if _, err := ParseDevice(bad); err == nil {
			t.Errorf("ParseDevice(%q) accepted", bad)
		}
	}
}

func TestDetectReadsDriverInformation(t *testing.T) {
	root := t.TempDir()
	for bus, model := range map[string]string{"0000:01:00.0": "NVIDIA H100 80GB HBM3", "0000:02:00.0": "Tesla T4"} {
		dir := filepath.Join(root, bus)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		info := "Model: \t\t " + model + "\nIRQ:   42\nGPU UUID: GPU-1\n"
		if err := os.WriteFile(filepath.Join(dir, "information"), []byte(info), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gpus, err := detectIn(root)
	if err != nil || len(gpus) != 2 || gpus[0].Model != "NVIDIA H100 80GB HBM3" || gpus[1].BusID != "0000:02:00.0" {
		t.Fatalf("got %+v, %v", gpus, err)
	}
	none, err := detectIn(filepath.Join(root, "absent"))
	if err != nil || none != nil {
		t.Fatalf("no driver: %v, %v", none, err)
	}
}

package wordpiece

// Batch is encodings padded to one length, as the three int64 tensors a
// BERT-family model takes, row-major [Rows, Len].
type Batch struct {
	Rows, Len int
	IDs       []int64
	Mask      []int64 // 1 for a real token, 0 for padding
	TypeIDs   []int64
}

// Pad pads encodings to the longest of them (rounded up to the tokenizer's
// pad_to_multiple_of), on the side tokenizer.json says.
func (t *Tokenizer) Pad(encs []Encoding) Batch {
	n := 0
	for _, e := range encs {
		n = max(n, len(e.IDs))
	}
	if m := t.padMultiple; m > 1 && n%m != 0 {
		n += m - n%m
	}
	b := Batch{Rows: len(encs), Len: n, IDs: make([]int64, len(encs)*n), Mask: make([]int64, len(encs)*n), TypeIDs: make([]int64, len(encs)*n)}
	for i, e := range encs {
		row := i * n
		off := 0
		if t.padLeft {
			off = n - len(e.IDs)
		}
		for j := range n {
			b.IDs[row+j], b.TypeIDs[row+j] = t.padID, t.padTypeID
		}
		copy(b.IDs[row+off:], e.IDs)
		copy(b.TypeIDs[row+off:], e.TypeIDs)
		for j := range e.IDs {
			b.Mask[row+off+j] = 1
		}
	}
	return b
}

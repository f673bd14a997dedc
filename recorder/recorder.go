package recorder

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// blockFrames is how much audio a block holds: 200 ms (6.4 kB of stereo
	// 16-bit samples). The writer flushes and rewrites the header once per
	// block, so a crash loses at most a fifth of a second; and a call
	// holds a block or two while the disk keeps up, 13 kB, where 1 s blocks
	// cost 64 kB (make bench's memory per call, docs/performance.md). Five
	// writes a second per recording is little for the writer; a block is a
	// whole number of 20 ms frames (ten).
	blockFrames = sampleRate / 5
	blockBytes  = blockFrames * bytesPerFrame
	// blocksPerRecording is the most blocks a recording holds: one being
	// filled, the rest in flight to the disk. With fifteen, the disk may lag
	// 2.8 s before frames drop. A recording starts with one and takes more
	// only when the writer has not brought the last one back: while the
	// disk keeps up it holds two.
	blocksPerRecording = 15
	// sizesEvery is how many blocks pass between rewrites of the WAV header's
	// sizes (the first block's are written at once): once a second. Each
	// rewrite is two more writes, and with 200 ms blocks they would triple the
	// writer's system calls; recorder.Repair makes the header exact after a
	// crash anyway, so a live file's header may lag its audio by a second.
	sizesEvery = sampleRate / blockFrames
	// jobQueueLen is the writer's queue across all recordings.
	jobQueueLen = 4096
)

// Stats are the writer's counters since NewWriter.
type Stats struct {
	OpenRecordings int
	FramesDropped  uint64 // 20 ms frames lost because the disk fell behind (or a recording failed)
	WriteErrors    uint64 // recordings stopped by a write error (disk full, I/O error)
	BytesWritten   uint64
}

// Writer does the file I/O of every recording on one goroutine.
type Writer struct {
	logger *slog.Logger
	jobs   chan job
	quit   chan struct{}
	done   chan struct{}

	mu     sync.Mutex
	closed bool
	open   map[*Recording]struct{}

	framesDropped, writeErrors, bytesWritten atomic.Uint64

	// blocks recycles the blocks of finished recordings: at 1,000 calls/s
	// fresh ones cost about 150 MB/s of garbage (make bench, docs/performance.md).
	blocks sync.Pool
}

// block is blockFrames of interleaved little-endian samples.
type block struct {
	data [blockBytes]byte
	n    int // bytes filled
}

// job is one unit of work for the writer goroutine.
type job struct {
	rec   *Recording
	blk   *block // to append; nil for none
	final bool   // finalize and close the file after blk
}

// NewWriter starts the writer goroutine; nil logger discards.
func NewWriter(logger *slog.Logger) *Writer {
	w := newWriter(logger)
	go w.run()
	return w
}

// newWriter builds a Writer without starting its goroutine (tests start it
// late to play a stalled disk).
func newWriter(logger *slog.Logger) *Writer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	w := &Writer{
		logger: logger,
		jobs:   make(chan job, jobQueueLen),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
		open:   make(map[*Recording]struct{}),
	}
	return w
}

// Close finalizes every open recording, then stops the writer goroutine.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	open := make([]*Recording, 0, len(w.open))
	for r := range w.open {
		open = append(open, r)
	}
	w.mu.Unlock()

	var errs []error
	for _, r := range open {
		errs = append(errs, r.Close())
	}
	close(w.quit)
	<-w.done
	return errors.Join(errs...)
}

// Stats returns a snapshot of the counters.
func (w *Writer) Stats() Stats {
	w.mu.Lock()
	open := len(w.open)
	w.mu.Unlock()
	return Stats{
		OpenRecordings: open,
		FramesDropped:  w.framesDropped.Load(),
		WriteErrors:    w.writeErrors.Load(),
		BytesWritten:   w.bytesWritten.Load(),
	}
}

// Create makes the directories, creates path (it must not exist: a
// recording is never overwritten) and writes the header at once, so even an
// empty recording is a valid WAV file. The open and the header write run on
// the caller's goroutine so their errors come back here.
func (w *Writer) Create(path string) (*Recording, error) {
	w.mu.Lock()
	closed := w.closed
	w.mu.Unlock()
	if closed {
		return nil, ErrWriterClosed
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create recording %s: %w", path, err)
	}
	// Recordings are personal data: not for every account on the box.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return nil, fmt.Errorf("create recording %s: %w", path, err)
	}
	h := header(0)
	if _, err := f.Write(h[:]); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("write header of %s: %w", path, err)
	}
	r := &Recording{
		w:         w,
		path:      path,
		file:      f,
		free:      make(chan *block, blocksPerRecording),
		closeDone: make(chan struct{}),
	}
	r.cur, r.owned = w.getBlock(), 1

	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		f.Close()
		return nil, ErrWriterClosed
	}
	w.open[r] = struct{}{}
	w.mu.Unlock()
	return r, nil
}

func (w *Writer) run() {
	defer close(w.done)
	for {
		select {
		case <-w.quit:
			return
		case j := <-w.jobs:
			w.handle(j)
		}
	}
}

// handle runs on the writer goroutine.
func (w *Writer) handle(j job) {
	r := j.rec
	if j.blk != nil {
		if r.writeErr == nil {
			r.appendBlock(j.blk.data[:j.blk.n])
		}
		j.blk.n = 0
		r.free <- j.blk // never blocks: free holds every block of r
	}
	if j.final {
		r.finish()
	}
}

// Recording is one WAV file being written. Frame is called by the media
// pacer; Close by the call's owner.
type Recording struct {
	w    *Writer
	path string

	mu      sync.Mutex // Frame vs Close
	closed  bool
	cur     *block // being filled; nil when all blocks are in flight
	pending *block // full, not yet accepted by the writer's queue
	free    chan *block
	owned   int // blocks taken from the writer's pool, at most blocksPerRecording

	frames atomic.Int64 // stereo frames accepted
	failed atomic.Bool  // a write error stopped the recording

	// Writer goroutine only.
	file      *os.File
	dataBytes int64
	unsized   int // blocks written since the header's sizes were
	writeErr  error
	sizeBuf   [8]byte // header sizes being written, reused so flushes do not allocate

	closeOnce sync.Once
	closeDone chan struct{}
	closeErr  error
	// markers, set by CloseWithMarkers before the final job, are written
	// after the audio by the writer.
	markers []Marker
}

// Path returns the file's path.
func (r *Recording) Path() string { return r.path }

// Duration is the audio accepted so far (written or on its way to disk).
func (r *Recording) Duration() time.Duration { return framesToDuration(r.frames.Load()) }

// Frame appends one interval: in to the left channel, out to the right. It
// never blocks and never allocates: samples are copied into the current
// block, and a full block is queued for the writer. When the disk falls
// behind and no block is free, the frame is dropped and counted. A shorter
// slice is padded with silence.
func (r *Recording) Frame(in, out []int16) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.failed.Load() {
		return // a failed recording was counted once in WriteErrors
	}
	if r.pending != nil && !r.submit(r.pending) {
		r.w.framesDropped.Add(1)
		return
	}
	r.pending = nil
	n := max(len(in), len(out))
	for i := range n {
		if r.cur == nil {
			select {
			case r.cur = <-r.free:
			default:
				if r.owned == blocksPerRecording {
					r.w.framesDropped.Add(1)
					return
				}
				// The pool hands back blocks of ended recordings: no
				// allocation once calls come and go.
				r.cur = r.w.getBlock()
				r.owned++
			}
		}
		var left, right int16
		if i < len(in) {
			left = in[i]
		}
		if i < len(out) {
			right = out[i]
		}
		b := r.cur.data[r.cur.n : r.cur.n+bytesPerFrame]
		binary.LittleEndian.PutUint16(b[0:], uint16(left))
		binary.LittleEndian.PutUint16(b[2:], uint16(right))
		r.cur.n += bytesPerFrame
		r.frames.Add(1)
		if r.cur.n == blockBytes {
			full := r.cur
			r.cur = nil
			if !r.submit(full) {
				r.pending = full // retried on the next Frame; nothing is lost
			}
		}
	}
}

// submit queues a block without blocking; the caller holds r.mu.
func (r *Recording) submit(b *block) bool {
	select {
	case r.w.jobs <- job{rec: r, blk: b}:
		return true
	default:
		return false
	}
}

// Close writes what is buffered, fixes the header, syncs and closes the
// file. It waits for the writer and returns the write error that stopped
// the recording, if any. It is idempotent.
func (r *Recording) Close() error { return r.CloseWithMarkers(nil) }

// CloseWithMarkers is Close that also writes markers (the call's stages)
// after the audio, as a cue chunk and LIST/adtl labels, in the same final
// write and sync: a file anyone sees closed has them.
func (r *Recording) CloseWithMarkers(markers []Marker) error {
	r.closeOnce.Do(func() {
		r.markers = markers // the final job below hands it to the writer
		r.mu.Lock()
		r.closed = true
		if r.pending != nil {
			r.w.jobs <- job{rec: r, blk: r.pending}
			r.pending = nil
		}
		tail := r.cur
		r.cur = nil
		r.mu.Unlock()
		if tail != nil && tail.n == 0 {
			tail = nil
		}
		r.w.jobs <- job{rec: r, blk: tail, final: true} // may wait for the queue: Close is not on the pacer
		<-r.closeDone

		r.w.mu.Lock()
		delete(r.w.open, r)
		r.w.mu.Unlock()
	})
	return r.closeErr
}

// appendBlock writes audio and, for the first block and then once a second,
// the sizes that cover it, so the file on disk is a valid WAV up to the last
// sizes written even if the process dies next (and Repair at the next start
// covers the rest). Writer goroutine only.
func (r *Recording) appendBlock(b []byte) {
	if _, err := r.file.Write(b); err != nil {
		r.fail(err)
		return
	}
	r.dataBytes += int64(len(b))
	r.w.bytesWritten.Add(uint64(len(b)))
	if r.unsized++; r.dataBytes > int64(len(b)) && r.unsized < sizesEvery {
		return
	}
	r.unsized = 0
	if err := r.writeSizes(); err != nil {
		r.fail(err)
	}
}

func (r *Recording) writeSizes() error { return r.writeSizesWith(0) }

// writeSizesWith writes the sizes, the RIFF one covering trailing bytes
// of chunks after the audio.
func (r *Recording) writeSizesWith(trailing int64) error {
	riffSize, dataSize := r.sizeBuf[0:4], r.sizeBuf[4:8]
	binary.LittleEndian.PutUint32(riffSize, uint32(36+r.dataBytes+trailing))
	if _, err := r.file.WriteAt(riffSize, riffSizeOffset); err != nil {
		return err
	}
	binary.LittleEndian.PutUint32(dataSize, uint32(r.dataBytes))
	_, err := r.file.WriteAt(dataSize, dataSizeOffset)
	return err
}

// fail stops the recording after a write error: logged once, counted, and
// the call goes on. Writer goroutine only.
func (r *Recording) fail(err error) {
	r.writeErr = fmt.Errorf("write recording %s: %w", r.path, err)
	r.failed.Store(true)
	r.w.writeErrors.Add(1)
	r.w.logger.Error("recording stopped", "path", r.path, "err", err)
}

// finish finalizes the file. Writer goroutine only.
func (r *Recording) finish() {
	err := r.writeErr
	var trailing int64
	if err == nil && len(r.markers) > 0 {
		// The markers go after the audio before the sizes cover them: a
		// crash between the two leaves a file Repair sees as consistent.
		chunks := markerChunks(r.markers, r.dataBytes/bytesPerFrame)
		if _, werr := r.file.WriteAt(chunks, headerSize+r.dataBytes); werr != nil {
			r.w.logger.Error("recording markers", "path", r.path, "err", werr)
		} else {
			trailing = int64(len(chunks))
		}
	}
	if err == nil {
		if werr := r.writeSizesWith(trailing); werr != nil {
			err = fmt.Errorf("finalize recording %s: %w", r.path, werr)
		} else if serr := r.file.Sync(); serr != nil {
			err = fmt.Errorf("sync recording %s: %w", r.path, serr)
		}
	}
	if cerr := r.file.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close recording %s: %w", r.path, cerr)
	}
	r.closeErr = err
	// Every block that came home goes back to the pool; one still out (a
	// write error path) is left to the garbage collector.
	for {
		select {
		case b := <-r.free:
			r.w.blocks.Put(b)
			continue
		default:
		}
		break
	}
	close(r.closeDone)
}

func (w *Writer) getBlock() *block {
	if b, ok := w.blocks.Get().(*block); ok {
		b.n = 0
		return b
	}
	return new(block)
}

package recorder

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Repair walks dir and fixes every .wav file whose RIFF or data chunk size
// disagrees with the file's length, the state a crash (kill -9, power loss)
// leaves a recording in: the audio after the last header rewrite is on disk
// but not counted. The data chunk is extended to the end of the file, minus
// a partial trailing sample frame, which is cut off. Run it at start-up,
// before new recordings are created in dir.
//
// Files that are not RIFF/WAVE, have no data chunk, or are consistent
// (including files with chunks after the data, such as LIST) are left
// alone. It returns the paths it changed; errors for single files are
// joined and do not stop the walk.
func Repair(dir string) (repaired []string, err error) {
	var errs []error
	walkErr := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, err)
			if d != nil && d.IsDir() && path != dir {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || !d.Type().IsRegular() || !strings.EqualFold(filepath.Ext(path), ".wav") {
			return nil
		}
		changed, err := repairFile(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("repair %s: %w", path, err))
		}
		if changed {
			repaired = append(repaired, path)
		}
		return nil
	})
	if walkErr != nil {
		errs = append(errs, walkErr)
	}
	return repaired, errors.Join(errs...)
}

// repairFile fixes one file; false, nil when it needed nothing or is not a
// WAV we can reason about.
func repairFile(path string) (bool, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return false, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return false, err
	}
	fileSize := info.Size()

	var riff [12]byte
	if _, err := f.ReadAt(riff[:], 0); err != nil {
		return false, nil // shorter than a RIFF header: nothing to save
	}
	if string(riff[0:4]) != "RIFF" || string(riff[8:12]) != "WAVE" {
		return false, nil
	}

	// Find fmt (for the block alignment) and data, walking the chunks.
	blockAlign := int64(0)
	offset := int64(12)
	for {
		var hdr [8]byte
		if _, err := f.ReadAt(hdr[:], offset); err != nil {
			return false, nil // no data chunk
		}
		id := string(hdr[0:4])
		size := int64(binary.LittleEndian.Uint32(hdr[4:8]))
		body := offset + 8
		switch id {
		case "fmt ":
			var fmtBody [16]byte
			if size < 16 {
				return false, nil
			}
			if _, err := f.ReadAt(fmtBody[:], body); err != nil {
				return false, nil
			}
			blockAlign = int64(binary.LittleEndian.Uint16(fmtBody[12:14]))
		case "data":
			if blockAlign <= 0 {
				return false, nil
			}
			return fixDataChunk(f, offset, size, fileSize, blockAlign)
		}
		offset = body + size + size%2
	}
}

// fixDataChunk makes the data chunk at offset run to the end of the file.
func fixDataChunk(f *os.File, offset, declared, fileSize, blockAlign int64) (bool, error) {
	body := offset + 8
	actual := (fileSize - body) / blockAlign * blockAlign
	end := body + declared + declared%2
	if declared == actual && fileSize == body+actual+actual%2 {
		riffDeclared, err := readUint32(f, riffSizeOffset)
		if err != nil {
			return false, err
		}
		if riffDeclared == fileSize-8 {
			return false, nil
		}
	} else if declared < actual && hasChunkAt(f, end, fileSize) {
		return false, nil // a consistent file with chunks after the data
	}

	newEnd := body + actual
	if err := f.Truncate(newEnd); err != nil { // drops a partial sample frame
		return false, err
	}
	if actual%2 == 1 { // RIFF chunks are word-aligned (odd blockAlign only)
		if _, err := f.WriteAt([]byte{0}, newEnd); err != nil {
			return false, err
		}
		newEnd++
	}
	if err := writeUint32(f, offset+4, actual); err != nil {
		return false, err
	}
	if err := writeUint32(f, riffSizeOffset, newEnd-8); err != nil {
		return false, err
	}
	return true, f.Sync()
}

// trailingChunkIDs are the chunks other tools put after the audio. Only
// these count as "the file continues", so unflushed audio that happens to
// look like text is not mistaken for a chunk.
var trailingChunkIDs = map[string]bool{
	"LIST": true, "id3 ": true, "ID3 ": true, "cue ": true, "smpl": true, "inst": true,
	"bext": true, "fact": true, "JUNK": true, "junk": true, "PAD ": true, "acid": true,
	"_PMX": true, "iXML": true, "axml": true, "cart": true, "umid": true, "DISP": true,
}

// hasChunkAt reports whether a known chunk that fits in the file starts at off.
func hasChunkAt(f *os.File, off, fileSize int64) bool {
	var hdr [8]byte
	if _, err := f.ReadAt(hdr[:], off); err != nil {
		return false
	}
	size := int64(binary.LittleEndian.Uint32(hdr[4:8]))
	return trailingChunkIDs[string(hdr[:4])] && off+8+size <= fileSize
}

func readUint32(f *os.File, off int64) (int64, error) {
	var b [4]byte
	if _, err := f.ReadAt(b[:], off); err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	return int64(binary.LittleEndian.Uint32(b[:])), nil
}

func writeUint32(f *os.File, off, v int64) error {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(v))
	_, err := f.WriteAt(b[:], off)
	return err
}

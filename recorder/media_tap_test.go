package recorder_test

import (
	"encoding/binary"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/zaf/g711"

	"github.com/hotline-cc/hotline/media"
	"github.com/hotline-cc/hotline/recorder"
)

var _ media.Tap = (*recorder.Recording)(nil)

func sine(n int, freq float64) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(8000 * math.Sin(2*math.Pi*freq*float64(i)/8000))
	}
	return out
}

// level is the amplitude of freq in samples at 8 kHz (single-bin DFT).
func level(samples []int16, freq float64) float64 {
	var re, im float64
	for i, s := range samples {
		ph := 2 * math.Pi * freq * float64(i) / 8000
		re += float64(s) * math.Cos(ph)
		im -= float64(s) * math.Sin(ph)
	}
	return 2 * math.Hypot(re, im) / float64(max(1, len(samples)))
}

// TestRecordingAsMediaTap records a live endpoint: the caller's tone must
// land on the left channel, the prompt played to the caller on the right,
// and the file must be exactly as long as the frames the pacer delivered.
func TestRecordingAsMediaTap(t *testing.T) {
	engine, err := media.NewEngine(media.Config{BindIP: netip.MustParseAddr("127.0.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	defer engine.Close()
	ep, err := engine.NewEndpoint("rec-call", "caller")
	if err != nil {
		t.Fatal(err)
	}
	phone, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer phone.Close()
	ep.SetRemote(media.Remote{Addr: phone.LocalAddr().(*net.UDPAddr).AddrPort(), Codec: media.CodecPCMU})

	w := recorder.NewWriter(nil)
	defer w.Close()
	rec, err := w.Create(filepath.Join(t.TempDir(), "rec-call.wav"))
	if err != nil {
		t.Fatal(err)
	}
	ep.Record(rec)
	prompt := media.NewPrompt("beep", sine(8000, 440)) // 1 s
	id := ep.Play(media.Playlist{Prompts: []*media.Prompt{prompt}})

	// The caller talks: 1 kHz, 50 packets paced at 20 ms (bounded load).
	callerTone := sine(50*160, 1000)
	ticker := time.NewTicker(20 * time.Millisecond)
	defer ticker.Stop()
	payload := make([]byte, 160)
	for i := range 50 {
		<-ticker.C
		for j := range payload {
			payload[j] = g711.EncodeUlawFrame(callerTone[i*160+j])
		}
		b, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(i), Timestamp: uint32(i * 160), SSRC: 5}, Payload: payload}).Marshal()
		if _, err := phone.WriteToUDPAddrPort(b, ep.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case ev := <-ep.Events():
		if ev.Kind != media.EventPlaybackDone || ev.PlaybackID != id {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("playback never finished")
	}
	ep.Record(nil)
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}

	b, err := os.ReadFile(rec.Path())
	if err != nil {
		t.Fatal(err)
	}
	dataSize := binary.LittleEndian.Uint32(b[40:])
	if int(dataSize) != len(b)-44 || time.Duration(dataSize/4)*time.Second/8000 != rec.Duration() {
		t.Fatalf("data %d bytes, file %d, duration %v", dataSize, len(b), rec.Duration())
	}
	if dataSize%(160*4) != 0 || rec.Duration() < time.Second {
		t.Fatalf("recording of %v is not whole 20 ms frames of at least the 1 s prompt", rec.Duration())
	}
	var left, right []int16
	for i := 44; i+4 <= len(b); i += 4 {
		left = append(left, int16(binary.LittleEndian.Uint16(b[i:])))
		right = append(right, int16(binary.LittleEndian.Uint16(b[i+2:])))
	}
	if l1k, l440 := level(left, 1000), level(left, 440); l1k < 2000 || l440 > l1k/20 {
		t.Errorf("left (caller): 1 kHz %.0f, 440 Hz %.0f", l1k, l440)
	}
	if r440, r1k := level(right, 440), level(right, 1000); r440 < 2000 || r1k > r440/20 {
		t.Errorf("right (heard): 440 Hz %.0f, 1 kHz %.0f", r440, r1k)
	}
}

package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/store"
)

// stages records stages of a call in the test's store.
func (a *testAPI) stages(stages ...store.Stage) {
	a.t.Helper()
	if err := a.store.StagesRecorded(context.Background(), stages); err != nil {
		a.t.Fatal(err)
	}
}

func TestCallTimeline(t *testing.T) {
	a := newTestAPI(t)
	at := func(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }
	a.call(store.CDR{CallID: "c1", Start: t0.Add(-time.Second), Answer: t0, End: at(100), AgentID: "1001"})
	a.stages(
		store.Stage{CallID: "c1", Seq: 1, Kind: store.StageIVR, Start: at(0), End: at(10), Detail: "welcome>support"},
		store.Stage{CallID: "c1", Seq: 2, Kind: store.StageQueue, Start: at(10), End: at(30), Queue: "support", Result: "answered"},
		store.Stage{CallID: "c1", Seq: 3, Kind: store.StageRing, Start: at(25), End: at(30), Parent: 2, AgentID: "1001", Queue: "support", Result: "answered"},
		store.Stage{CallID: "c1", Seq: 4, Kind: store.StageTalk, Start: at(30), End: at(88.5), AgentID: "1001", Queue: "support"},
		store.Stage{CallID: "c1", Seq: 5, Kind: store.StageHold, Start: at(40), End: at(50), Parent: 4, AgentID: "1001"},
		// 1.5 s unaccounted for before the survey, which was left open: it
		// runs to the call's end.
		store.Stage{CallID: "c1", Seq: 6, Kind: store.StageSurvey, Start: at(90)},
	)

	body := a.want("/api/v1/calls/c1/timeline", qaToken, 200)
	for k, v := range map[string]any{
		"call_id": "c1", "answer": "2026-11-23T09:00:00Z", "end": "2026-11-23T09:01:40Z", "live": false,
		"duration_seconds": 100.0, "unaccounted_seconds": 1.5,
		"totals": map[string]any{"ivr": 10.0, "queue": 20.0, "talk": 58.5, "survey": 10.0},
	} {
		if !reflect.DeepEqual(body[k], v) {
			t.Errorf("%s = %#v, want %#v", k, body[k], v)
		}
	}
	stages, _ := body["stages"].([]any)
	if len(stages) != 6 {
		t.Fatalf("stages: %v", body["stages"])
	}
	wantRing := map[string]any{
		"seq": 3.0, "stage": "ring", "start": "2026-11-23T09:00:25Z", "end": "2026-11-23T09:00:30Z",
		"duration_seconds": 5.0, "parent": 2.0, "agent_id": "1001", "queue": "support", "detail": "", "result": "answered",
	}
	if !reflect.DeepEqual(stages[2], wantRing) {
		t.Errorf("ring stage:\n got  %v\n want %v", stages[2], wantRing)
	}
	survey := stages[5].(map[string]any)
	if v, present := survey["end"]; !present || v != nil || survey["duration_seconds"] != 10.0 {
		t.Errorf("open survey stage: %v; want end null and 10 s", survey)
	}
	for i, st := range stages {
		if seq := st.(map[string]any)["seq"]; seq != float64(i+1) {
			t.Errorf("stage %d has seq %v", i, seq)
		}
	}
}

func TestCallTimelineLive(t *testing.T) {
	a := newTestAPI(t)
	answered := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	if err := a.store.CallAnswered(context.Background(), store.CDR{CallID: "live", Start: answered, Answer: answered}); err != nil {
		t.Fatal(err)
	}
	a.stages(
		store.Stage{CallID: "live", Seq: 1, Kind: store.StageIVR, Start: answered, End: answered.Add(20 * time.Second)},
		store.Stage{CallID: "live", Seq: 2, Kind: store.StageQueue, Start: answered.Add(20 * time.Second), Queue: "support"},
	)
	body := a.want("/api/v1/calls/live/timeline", adminToken, 200)
	if v, present := body["end"]; !present || v != nil || body["live"] != true {
		t.Errorf("end %v (present %v), live %v; want null and true", v, present, body["live"])
	}
	// The call and its open queue stage run to the time of the request.
	duration, _ := body["duration_seconds"].(float64)
	if duration < 60 || duration > 70 {
		t.Errorf("duration_seconds %v, want about 60", duration)
	}
	queue, _ := body["totals"].(map[string]any)["queue"].(float64)
	if queue != duration-20 || body["unaccounted_seconds"] != 0.0 {
		t.Errorf("queue total %v, unaccounted %v; want %v and 0", queue, body["unaccounted_seconds"], duration-20)
	}
}

func TestCallTimelineWithoutStages(t *testing.T) {
	a := newTestAPI(t)
	a.call(store.CDR{CallID: "old", Start: t0})
	body := a.want("/api/v1/calls/old/timeline", adminToken, 200)
	for k, v := range map[string]any{
		"stages": []any{}, "totals": map[string]any{}, "duration_seconds": 60.0, "unaccounted_seconds": 60.0,
	} {
		if !reflect.DeepEqual(body[k], v) {
			t.Errorf("%s = %#v, want %#v", k, body[k], v)
		}
	}
}

func TestCallTimelineErrors(t *testing.T) {
	a := newTestAPI(t)
	a.call(store.CDR{CallID: "c1", Start: t0})
	a.want("/api/v1/calls/nope/timeline", adminToken, 404)
	a.want("/api/v1/calls/c1/timeline", "", 401)
	a.want("/api/v1/calls/c1/timeline", "wrong-token", 401)

	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/v1/calls/c1/timeline", nil))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d Allow %q, want 405 GET, HEAD", rec.Code, rec.Header().Get("Allow"))
	}
}

// TestCallTimelineAccessAsGetCall: every token sees a call's timeline
// exactly when it may see the call, whoever's call it is.
func TestCallTimelineAccessAsGetCall(t *testing.T) {
	a := newTestAPI(t)
	a.call(store.CDR{CallID: "mine", Start: t0, AgentID: "1001"})
	a.call(store.CDR{CallID: "theirs", Start: t0.Add(time.Minute), AgentID: "1002"})
	for _, token := range []string{adminToken, supToken, qaToken, agentToken} {
		for _, id := range []string{"mine", "theirs", "none"} {
			call, _ := a.get("/api/v1/calls/"+id, token)
			timeline, _ := a.get("/api/v1/calls/"+id+"/timeline", token)
			if timeline != call {
				t.Errorf("token %s, call %s: timeline %d, call %d", token, id, timeline, call)
			}
		}
	}
}

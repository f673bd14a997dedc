package acd

import "testing"

// TestConsultCallID: a consultation's ID names its call, whatever the
// carrier put in the Call-ID (dashes included); other IDs name none.
func TestConsultCallID(t *testing.T) {
	for _, callID := range []string{"abc@host", "1-5779@127.0.0.1", "a-b-c"} {
		if got, ok := ConsultedCall(ConsultCallID(callID, 12)); !ok || got != callID {
			t.Errorf("ConsultedCall(ConsultCallID(%q)) = %q, %v", callID, got, ok)
		}
	}
	for _, id := range []string{"abc@host", "consult-", "consult-x-abc", "consult-1-", "callback-3", ""} {
		if got, ok := ConsultedCall(id); ok {
			t.Errorf("ConsultedCall(%q) = %q, true; want false", id, got)
		}
	}
}

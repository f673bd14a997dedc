package api

import (
	"errors"
	"net/http"

	"github.com/hotline-cc/hotline/config"
)

// reload is POST /api/v1/reload: read the configuration file again and
// apply it, as SIGHUP does. Admin tokens only. A file with problems is
// refused whole (422) with every problem as file:line:col, and the running
// configuration stays.
func (a *api) reload(w http.ResponseWriter, r *http.Request) {
	p := who(r)
	if p.role != config.RoleAdmin {
		writeError(w, http.StatusForbidden, "only an admin token may reload the configuration")
		return
	}
	if a.Reload == nil {
		writeError(w, http.StatusConflict, "this hotline cannot reload its configuration")
		return
	}
	err := a.Reload()
	if err == nil {
		a.Log.Info("configuration reloaded through the api", "token", p.name)
		writeJSON(w, http.StatusOK, map[string]string{"status": "reloaded"})
		return
	}
	var errs config.Errors
	if !errors.As(err, &errs) {
		status := http.StatusUnprocessableEntity
		if errors.Is(err, ErrNoReloadSource) {
			status = http.StatusConflict
		}
		writeError(w, status, err.Error())
		return
	}
	lines := make([]string, 0, len(errs))
	for _, e := range errs {
		lines = append(lines, e.Error())
	}
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"error":  "configuration refused; the running one stays",
		"errors": lines,
	})
}

// ErrNoReloadSource is what Deps.Reload returns when there is no file to
// read again; the API answers it with 409.
var ErrNoReloadSource = errors.New("no configuration file to reload from")

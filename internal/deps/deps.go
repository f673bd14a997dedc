package deps

import (
	_ "github.com/emiago/sipgo"
	_ "github.com/mattn/go-sqlite3"
	_ "github.com/pion/rtp"
	_ "github.com/pion/sdp/v3"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/zaf/g711"
	_ "gopkg.in/yaml.v3"
)

package call

import "strconv"

// SurveyScoreVar is the variable a survey flow collects the caller's score
// into: 0 to 10, the Net Promoter scale.
const SurveyScoreVar = "survey_score"

// surveyScore puts the post-call survey's answer into the CDR, with the
// call's agent, and counts it. A score outside 0-10 is no answer.
func (c *Call) surveyScore() {
	if c.surveyRun == nil {
		return
	}
	v := c.surveyRun.Var(SurveyScoreVar)
	score, err := strconv.Atoi(v)
	if v == "" || err != nil || score < 0 || score > 10 {
		c.m.deps.Metrics.survey(c.queueName, "")
		if v != "" {
			c.log.Info("survey answer out of range", "survey_score", v)
		}
		return
	}
	c.cdr.SurveyScore, c.cdr.SurveySet = score, true
	c.m.deps.Metrics.survey(c.queueName, npsCategory(score))
	c.log.Info("survey answered", "agent_id", c.agentID, "survey_score", score)
}

// npsCategory sorts a 0-10 score the Net Promoter way.
func npsCategory(score int) string {
	switch {
	case score >= 9:
		return "promoter"
	case score >= 7:
		return "passive"
	}
	return "detractor"
}

package authflow

import "strings"

// maxUserAgentLen bounds the User-Agent header read at login; a longer one
// is treated as unknown.
const maxUserAgentLen = 1 << 10

// userAgentFamily sorts a User-Agent header (RFC 9110 §10.1.5) into a coarse,
// fixed label such as "Chrome on macOS", for a user's list of their sessions
// (Handler.Sessions). The label is one of a few browser names, optionally
// followed by " on " and one of a few platform names, or "" when neither is
// recognised: never text copied from the header, which is attacker-chosen and
// identifying. Browsers that claim to be others (Edge and Opera say Chrome,
// Chrome says Safari) are tested first.
func userAgentFamily(ua string) string {
	if ua == "" || len(ua) > maxUserAgentLen {
		return ""
	}
	browser := firstMatch(ua, browserFamilies)
	platform := firstMatch(ua, platformFamilies)
	switch {
	case browser != "" && platform != "":
		return browser + " on " + platform
	case browser != "":
		return browser
	case platform != "":
		return "a browser on " + platform
	}
	return ""
}

// family is a label and the header substrings that select it.
type family struct {
	label string
	marks []string
}

// browserFamilies, in the order they are tested.
var browserFamilies = []family{
	{"Edge", []string{"Edg/", "EdgA/", "EdgiOS/", "Edge/"}},
	{"Opera", []string{"OPR/", "Opera"}},
	{"Samsung Internet", []string{"SamsungBrowser/"}},
	{"Firefox", []string{"Firefox/", "FxiOS/"}},
	{"Chromium", []string{"Chromium/"}},
	{"Chrome", []string{"Chrome/", "CriOS/"}},
	{"Safari", []string{"Safari/"}},
}

// platformFamilies, in the order they are tested (iOS and Android before
// macOS and Linux, whose marks their headers also carry).
var platformFamilies = []family{
	{"iOS", []string{"iPhone", "iPad", "iPod"}},
	{"Android", []string{"Android"}},
	{"ChromeOS", []string{"CrOS"}},
	{"Windows", []string{"Windows"}},
	{"macOS", []string{"Macintosh", "Mac OS X"}},
	{"Linux", []string{"Linux", "X11"}},
}

func firstMatch(ua string, fams []family) string {
	for _, f := range fams {
		for _, m := range f.marks {
			if strings.Contains(ua, m) {
				return f.label
			}
		}
	}
	return ""
}

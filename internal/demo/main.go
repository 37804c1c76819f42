// Command demo runs the quickstart end to end on this machine: it starts a
// local OpenID provider and MinIO (internal/testenv/stack), builds and starts
// examples/quickstart against them, signs in as alice in headless Chromium
// through the provider's real login form, and prints what she sees: her
// claims, when her AWS credentials expire, and her files. Then it stops
// everything. With -keep it leaves the stack running on fixed ports for a
// person with a browser (make dev), and prints the settings an app of one's
// own needs to use it (dev.go); -token SCOPE prints a bearer token from that
// running stack.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pubauth/awsauth/internal/testenv/browser"
	"github.com/pubauth/awsauth/internal/testenv/stack"
)

func main() {
	keep := flag.Bool("keep", false, "leave the stack running for a browser (make dev)")
	user := flag.String("user", "alice", "login to sign in as")
	token := flag.String("token", "", "print `SCOPES` (space- or comma-separated) in an access token of -user from the running make dev stack, and exit")
	issuer := flag.String("issuer", fmt.Sprintf("http://127.0.0.1:%d", devOIDCPort), "the make dev provider's issuer, for -token")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "demo: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if *token != "" {
		err = printToken(ctx, os.Stdout, devTokenRequest(*issuer, *user, *token))
	} else {
		err = run(ctx, *keep, *user, os.Getenv)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, keep bool, user string, getenv func(string) string) error {
	env, err := readDevEnv(getenv)
	if err != nil {
		return err
	}
	appAddr, oidcPort, minioPort := devAppAddr, devOIDCPort, devMinIOPort
	if !keep {
		port, err := freePort()
		if err != nil {
			return err
		}
		appAddr, oidcPort, minioPort = fmt.Sprintf("127.0.0.1:%d", port), 0, 0
	}
	appURL := "http://" + appAddr

	step("starting the OpenID provider (oidc-provider) and MinIO")
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	st, err := stack.Start(startCtx, env.stackConfig(appURL, oidcPort, minioPort))
	if err != nil {
		return err
	}
	defer st.Stop()
	fmt.Printf("  provider  %s\n  MinIO     %s (role %s)\n", st.OIDC.Issuer, st.MinIO.Endpoint, st.MinIO.RoleARN)

	step("building and starting examples/quickstart")
	app, err := startQuickstart(startCtx, st.QuickstartEnv(appAddr), appURL)
	if err != nil {
		return err
	}
	defer app.stop()
	fmt.Printf("  quickstart %s\n", appURL)
	fmt.Printf("  metrics    %s/metrics (OpenTelemetry, Prometheus format)\n", appURL)

	if keep {
		step("settings for an app of your own (README: \"Your own app against make dev\")")
		fmt.Print(settings(st, appAddr))
		fmt.Printf("\nOpen %s in a browser and sign in with any login (alice and bob have files) and any password.\nPress Ctrl-C to stop.\n", appURL)
		<-ctx.Done()
		return nil
	}
	return signIn(ctx, appURL, user)
}

// signIn drives headless Chromium through the login and prints each page.
func signIn(ctx context.Context, appURL, user string) error {
	bctx, cancel, err := browser.New(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	bctx, cancelT := context.WithTimeout(bctx, 90*time.Second)
	defer cancelT()

	step("signing in as " + user + " through the provider's login form")
	if err := chromedp.Do(bctx, chromedp.Navigate(appURL+"/"), chromedp.Click(chromedp.ID("login"))); err != nil {
		return err
	}
	if err := browser.ProviderLogin(bctx, user); err != nil {
		return err
	}
	me, err := pageJSON(bctx, "")
	if err != nil {
		return err
	}
	fmt.Printf("  landed on /me:\n%s\n", indent(me))

	step("listing " + user + "'s files with " + user + "'s temporary AWS credentials")
	files, err := pageJSON(bctx, appURL+"/files")
	if err != nil {
		return err
	}
	fmt.Printf("%s\n", indent(files))

	other := "bob/"
	if user == "bob" {
		other = "alice/"
	}
	step("asking MinIO for " + other + " with the same credentials")
	refused, err := pageJSON(bctx, appURL+"/files?prefix="+other)
	if err != nil {
		return err
	}
	fmt.Printf("%s\n", indent(refused))

	step("signing out")
	err = chromedp.Do(bctx, chromedp.Navigate(appURL+"/"), chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.ID("login")))
	if err != nil {
		return err
	}
	loc, err := chromedp.Run(bctx, chromedp.Location())
	if err != nil {
		return err
	}
	fmt.Printf("  back on %s, signed out\n", loc)
	if err := chromedp.Do(bctx, chromedp.Navigate(appURL+"/me")); err != nil {
		return err
	}
	if loc, err = chromedp.Run(bctx, chromedp.Location()); err != nil {
		return err
	}
	fmt.Printf("  /me now redirects to the provider: %s\n", strings.SplitN(loc, "?", 2)[0])
	return nil
}

// pageJSON navigates (unless url is empty) and returns the page's JSON text.
func pageJSON(ctx context.Context, url string) (string, error) {
	if url != "" {
		if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
			return "", err
		}
	}
	if err := chromedp.Do(ctx, chromedp.WaitReady(chromedp.CSS("body"))); err != nil {
		return "", err
	}
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		return "", err
	}
	if !json.Valid([]byte(text)) {
		return "", fmt.Errorf("expected JSON, the page shows: %.300s", text)
	}
	return text, nil
}

type process struct {
	cmd *exec.Cmd
	dir string
}

func (p *process) stop() {
	defer os.RemoveAll(p.dir)
	p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

// startQuickstart builds the example, as a user would run it, and waits
// until it answers.
func startQuickstart(ctx context.Context, env []string, appURL string) (*process, error) {
	dir, err := os.MkdirTemp("", "awsauth-demo")
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, "quickstart")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./examples/quickstart")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("building the quickstart: %w", err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), env...)
	logf, err := os.Create(filepath.Join(dir, "quickstart.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, dir: dir}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(appURL + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			p.stop()
			log, _ := os.ReadFile(logf.Name())
			return nil, errors.Join(errors.New("the quickstart did not become ready"), errors.New(string(log)))
		}
		time.Sleep(100 * time.Millisecond) // readiness polling, bounded by the deadline
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func step(s string) { fmt.Printf("\n==> %s\n", s) }

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n    ")
}

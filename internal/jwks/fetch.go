package jwks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// get fetches url and returns the body of a 200 response, refusing one longer than maxBody
// bytes before reading it all. Another status is a *FetchError with that StatusCode and no
// cause; every failure is a *FetchError. accept, when set, is the Accept header.
func get(ctx context.Context, client *http.Client, url, accept string, maxBody int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, &FetchError{Err: err}
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, &FetchError{Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &FetchError{StatusCode: resp.StatusCode}
	}
	tooLarge := &FetchError{StatusCode: resp.StatusCode, Err: fmt.Errorf("%w %d bytes", errTooLarge, maxBody)}
	if resp.ContentLength > maxBody {
		return nil, tooLarge
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, &FetchError{StatusCode: resp.StatusCode, Err: err}
	}
	if int64(len(body)) > maxBody {
		return nil, tooLarge
	}
	return body, nil
}

// errTooLarge is the cause of a FetchError for a body over the limit.
var errTooLarge = errors.New("jwks: response larger than")

// allowList resolves the algorithm names of a Config (def when none) against the allow-list of
// asymmetric JWS algorithms, keeping their order and dropping repeats.
func allowList(names []string, def string) (map[string]*algorithm, []string, error) {
	if len(names) == 0 {
		names = []string{def}
	}
	algs, order := map[string]*algorithm{}, []string(nil)
	for _, name := range names {
		a := algorithms[name]
		if a == nil {
			return nil, nil, fmt.Errorf("jwks: algorithm %q is not an allowed asymmetric JWS algorithm", name)
		}
		if algs[name] == nil {
			order = append(order, name)
		}
		algs[name] = a
	}
	return algs, order, nil
}

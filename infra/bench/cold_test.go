package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestSDKFloorLinksWhatEachFunctionLinks: built with the tags sdkClients
// names for a function, the SDK floor links exactly the SDK service clients
// the function links, so the difference between the two is this service's
// own code.
func TestSDKFloorLinksWhatEachFunctionLinks(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		t.Run(d.Name(), func(t *testing.T) {
			want, err := sdkClients(root, "./functions/"+d.Name())
			if err != nil {
				t.Fatal(err)
			}
			got, err := sdkClients(root, "./infra/bench/sdkfloor", want[1:]...)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("the SDK floor built with tags %v links %v; the function links %v", want[1:], got, want)
			}
		})
	}
	for pkg, want := range map[string][]string{
		"./functions/get":   {"dynamodb"},
		"./functions/check": {"dynamodb", "secretsmanager", "sts"},
	} {
		if got, err := sdkClients(root, pkg); err != nil || !slices.Equal(got, want) {
			t.Errorf("sdkClients(%s) = %v, %v; want %v", pkg, got, err, want)
		}
	}
}

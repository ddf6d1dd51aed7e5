package app

import (
	"testing"
	"time"
)

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestLoad(t *testing.T) {
	cfg, err := Load(lookup(map[string]string{"AWS_ENDPOINT_URL": "http://moto", "AWS_ENDPOINT_URL_STS": "http://sts",
		"CHECK_TIMEOUT": "2s", "AWS_REGION": "eu-central-1", "AWS_ACCESS_KEY_ID": "k"}), "127.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Endpoint("DYNAMODB") != "http://moto" || cfg.Endpoint("STS") != "http://sts" || cfg.CheckTimeout != 2*time.Second ||
		len(cfg.AllowCIDRs) != 1 || cfg.AWS.Region != "eu-central-1" || cfg.AWS.Credentials == nil || cfg.IdempotencyTTL != 24*time.Hour {
		t.Errorf("cfg = %+v", cfg)
	}
	if cfg, _ := Load(lookup(map[string]string{"BACKUP_ENDPOINT_ALLOW_CIDRS": ""}), "127.0.0.0/8"); len(cfg.AllowCIDRs) != 0 {
		t.Errorf("an empty allow-list set explicitly was replaced by the default")
	}
	for _, bad := range []map[string]string{{"CHECK_TIMEOUT": "soon"}, {"HEALTH_CONCURRENCY": "0"}, {"BACKUP_ENDPOINT_ALLOW_CIDRS": "10.0.0.0/33"}} {
		if _, err := Load(lookup(bad), ""); err == nil {
			t.Errorf("Load accepted %v", bad)
		}
	}
}

func TestParseAllowList(t *testing.T) {
	got, err := ParseAllowList(" 127.0.0.0/8, 10.2.3.4 ,fd00::/8,")
	if err != nil || len(got) != 3 || got[1].String() != "10.2.3.4/32" {
		t.Errorf("ParseAllowList = %v, %v", got, err)
	}
}

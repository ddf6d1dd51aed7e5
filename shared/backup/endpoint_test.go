package backup

import "testing"

// TestAWSEndpointForms: only S3's own endpoint host forms are AWS S3 (keys
// checked with STS, roles allowed); any other host under amazonaws.com, an
// EC2 instance's or a VPC endpoint's, is not.
func TestAWSEndpointForms(t *testing.T) {
	for host, want := range map[string]bool{
		"s3.amazonaws.com":                            true,
		"S3.EU-CENTRAL-1.AMAZONAWS.COM":               true,
		"s3.eu-central-1.amazonaws.com":               true,
		"s3-eu-west-1.amazonaws.com":                  true,
		"s3-external-1.amazonaws.com":                 true,
		"s3.dualstack.us-east-1.amazonaws.com":        true,
		"s3-fips.us-gov-west-1.amazonaws.com":         true,
		"s3-fips.dualstack.us-east-2.amazonaws.com":   true,
		"s3.cn-north-1.amazonaws.com.cn":              true,
		"s3.amazonaws.com.":                           true,
		"ec2-203-0-113-5.compute-1.amazonaws.com":     false,
		"vpce-0a1b.s3.us-east-1.vpce.amazonaws.com":   false,
		"bucket.s3.us-east-1.amazonaws.com":           false,
		"sts.amazonaws.com":                           false,
		"s3.evil.amazonaws.com":                       false,
		"s3.us-east-1.amazonaws.com.evil.example":     false,
		"amazonaws.com":                               false,
		"s3.dualstack.amazonaws.com":                  false,
		"s3-website-us-east-1.amazonaws.com":          false,
		"s3.eu-central-1.amazonaws.com.cn.example.cn": false,
	} {
		if got := IsAWSHost(host); got != want {
			t.Errorf("IsAWSHost(%q) = %v, want %v", host, got, want)
		}
	}
}

// TestEndpointPathCharacters: an endpoint's path holds only what RFC 3986
// allows, so nothing that reaches a page or a log can be markup.
func TestEndpointPathCharacters(t *testing.T) {
	for endpoint, ok := range map[string]bool{
		"https://s3.amazonaws.com":                              true,
		"https://minio.example.com:9000/backups/eu-1":           true,
		"https://minio.example.com/a%2Fb/~x!$&'()*+,;=:@":       true,
		`https://s3.amazonaws.com/"><img/src/onerror=alert(1)>`: false,
		"https://minio.example.com/<script>":                    false,
		"https://minio.example.com/a%zz":                        false,
		"https://minio.example.com/a%2":                         false,
		"https://minio.example.com/caf\u00e9":                   false,
		"https://minio.example.com/a{b}":                        false,
		"https://minio.example.com/a\\b":                        false,
	} {
		if _, err := ParseEndpoint(endpoint); (err == nil) != ok {
			t.Errorf("ParseEndpoint(%q) = %v, want accepted %v", endpoint, err, ok)
		}
	}
}

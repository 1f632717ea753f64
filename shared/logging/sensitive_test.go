package logging

import "testing"

func TestSensitiveKeySpellings(t *testing.T) {
	for key, want := range map[string]bool{
		"newPassword": true, "dbPassword": true, "x-api-key": true, "clientSecret": true,
		"AWS_SECRET_ACCESS_KEY": true, "clientRequestToken": false, "secretArn": false, "username": false,
	} {
		if got := sensitiveKey(key); got != want {
			t.Errorf("sensitiveKey(%q) = %v, want %v", key, got, want)
		}
	}
}

// Template of pf_auth.cs before the portal filled in the provider's credentials.
public static class pf_auth
{
    private const string LICENSE_KEY = "YOUR_LICENSE_KEY";
    private const string GROUP_KEY = "YOUR_GROUP_KEY";
    private const string CERT_PASSWORD = "YOUR_CERT_PASSWORD";
}

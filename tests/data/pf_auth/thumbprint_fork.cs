// A copy changed to load the client certificate from the Windows store by thumbprint,
// so it has no certificate password.
namespace Fabrikam.Security
{
    public static class pf_auth
    {
        private const string LICENSE_KEY = "M3ZK7QW2PD9X";
        private const string GROUP_KEY = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
        private const string CERT_THUMBPRINT = "3E1F0A9B8C7D6E5F4A3B2C1D0E9F8A7B6C5D4E3F";
    }
}

// A modified copy of pf_auth.cs, as found in some in-house projects: file-scoped
// namespace, static readonly fields, tabs, and a declaration split over lines.
namespace Contoso.Mfa;

using System;

[System.Obsolete("use the Azure MFA NPS extension")]
public static partial class PfAuth
{
	public static readonly String LICENSE_KEY = "RT6YB3NK8ZQ2";

	internal static readonly System.String
		GROUP_KEY
			=
		"0f1e2d3c4b5a6978" +
		"8796a5b4c3d2e1f0";

	private static string CERT_PASSWORD = @"P4SS\WORD""9QZ";

	private static readonly Dictionary<string, string> Extra = new() { ["LICENSE_KEY"] = "X" };
}

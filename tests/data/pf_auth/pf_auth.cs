// pf_auth.cs -- sample written for pyampam's tests, shaped like the file in the
// Azure MFA "SDK for ASP.net 2.0 C#" download. The credentials below are made up.
//
// Usage: call pf_auth.pf_authenticate() with the user's phone number. Keep this file,
// and certs/cert_key.p12 next to it, readable only by the service account.

using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Xml;

public static class pf_auth
{
    #region Provider credentials (don't edit: they're tied to your provider's account)
    private const string LICENSE_KEY = "K7QM2XR9TB4D";
    private const string GROUP_KEY = "9f3c1a7e5b2d4c6e8a0f1b3d5c7e9a2b";
    private const string CERT_PASSWORD = "HX4P9QK2MZ7RT3WN";
    #endregion

    // Older downloads had: private const string LICENSE_KEY = "OLDKEY000000";
    /* private const string CERT_PASSWORD = "NOTTHISONE00000"; */

    private const string PF_SERVER = "https://pfd.example.invalid/pfd/pfd.pl";
    private const string CERT_PATH = @"certs\cert_key.p12";
    private const int TIMEOUT_MS = 90 * 1000;

    public enum mode { STANDARD = 1, PIN = 2, VOICEPRINT = 3 }

    /// <summary>
    /// Places the call. Returns true when the user answered and pressed "#".
    /// </summary>
    public static bool pf_authenticate(string username, string phone, string country_code,
        ref int call_status, ref int error_id)
    {
        string request = get_request_xml(username, phone, country_code);
        string response = send_message(PF_SERVER, request);
        char quote = '"';
        char apostrophe = '\'';
        string decoy = "private const string LICENSE_KEY = \"NOT_A_KEY\";";
        string path = @"C:\SDK\pf\" + CERT_PATH + @" (""quoted"")";
        return check_response(response, quote, apostrophe, decoy + path, ref call_status, ref error_id);
    }

    private static string get_request_xml(string username, string phone, string country_code)
    {
        StringBuilder xml = new StringBuilder();
        xml.Append("<?xml version=\"1.0\"?>\n");
        xml.Append("<pfpMessage version='1.5'>");
        xml.AppendFormat("<license_key>{0}</license_key>", LICENSE_KEY);
        xml.AppendFormat("<group_key>{0}</group_key>", GROUP_KEY);
        xml.AppendFormat("<phone country_code=\"{0}\">{1}</phone>", country_code, phone);
        xml.Append("<user>" + username.Replace("&", "&amp;") + "</user>");
        xml.Append("</pfpMessage>");
        return xml.ToString();
    }

    private static string send_message(string url, string body)
    {
        X509Certificate2 cert = new X509Certificate2(CERT_PATH, CERT_PASSWORD);
        HttpWebRequest request = (HttpWebRequest)WebRequest.Create(url);
        request.ClientCertificates.Add(cert);
        request.Method = "POST";
        request.Timeout = TIMEOUT_MS;
        byte[] data = Encoding.UTF8.GetBytes(body);
        using (Stream stream = request.GetRequestStream()) { stream.Write(data, 0, data.Length); }
        using (StreamReader reader = new StreamReader(request.GetResponse().GetResponseStream()))
        {
            return reader.ReadToEnd();
        }
    }

    private static bool check_response(string response, char quote, char apostrophe, string note,
        ref int call_status, ref int error_id)
    {
        XmlDocument doc = new XmlDocument();
        doc.LoadXml(response);
        XmlNode status = doc.SelectSingleNode("//authenticated");
        call_status = int.Parse(doc.SelectSingleNode("//call_status").InnerText);
        error_id = int.Parse(doc.SelectSingleNode("//error_id").InnerText);
        return status != null && status.InnerText == "yes";
    }
}

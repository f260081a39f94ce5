"""The web pages: caseworkers' inbox and auditors' views, served over routing's and audit's APIs."""
